"""`nudge` subcommands, registered on the Faust app's CLI by the composition root.

Each module here exposes `register(app, settings)`, which adds its commands with
`@app.command(...)`. Only these modules and `streams/cli.py` may import `connectors`.
"""
