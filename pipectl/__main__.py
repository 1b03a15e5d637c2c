from pipectl.cli.main import main

main()
