"""Order-event producer: the orders.created.v1 contract, a seeded generator and a sender.

Library entry points (no Typer/Rich here; those live in cli*.py):
    producer.options.ProduceConfig, producer.options.build_config
    producer.send.produce(config, reporter) -> ProduceSummary, producer.send.dry_run(config)
    producer.contract.load_schema(), validator(), is_valid()
Runs without pipectl: `python producer/cli.py produce orders --rate 10`.
"""
