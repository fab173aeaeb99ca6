"""The request side: who the visitor is and what their request records.

* :mod:`.tracker`: :class:`~.tracker.Tracker`, ``request.dengage``;
* :mod:`.identity`: the visitor's ids in cookies and the session;
* :mod:`.ids`: where new ids come from (``/get/key``'s pool, local ids)
  and the links between users and ids;
* :mod:`.policy`: which requests are tracked, which are page views;
* :mod:`.device`: ``device`` from the User-Agent, bots, browsers;
* :mod:`.context`: the current request's tracker, for code without one.
"""
