"""The leak watch: least privilege, watched.

A person's reveals of contacts, tasks given back unworked, and exports of the client base
are counted per day against limits declared with their roles (``[leak_watch]`` in
``roles/*.toml``). Going over one alerts the team leads (an e-mail, and the team console)
and -- if the role says so -- suspends the person's reveals until a team lead clears them.
"""
