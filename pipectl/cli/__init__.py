"""The command line: Typer apps, the Output, and the error edge. Library code never imports this."""
