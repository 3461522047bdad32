"""An Elasticsearch-compatible development server for samplerr's tests and demos (``samplerr devserver``).

It speaks Elasticsearch's REST protocol for what samplerr and its users' first tools need — indices,
templates, aliases, bulk, search, aggregations, ``_cat`` — with Elasticsearch's status codes and error
bodies, plays an 8.x or 9.x server, injects faults on demand, and can keep its state durably. It is
not Elasticsearch: see ``samplerr devserver --help`` and the module docstrings for what it covers.
"""

from samplerr.devserver.server import DevServer, DevServerOptions

__all__ = ["DevServer", "DevServerOptions"]
