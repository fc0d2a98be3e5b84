"""The control API: Starlette routes that parse a request, call the core, and serialise the answer.

`simulator.api.app.create_app(sim)` serves an open simulator; `simulator.cli.serve.serve_command(args)` is
`webhook-sim serve`. The route table (`app.ENDPOINTS`) also generates the OpenAPI document.
"""
