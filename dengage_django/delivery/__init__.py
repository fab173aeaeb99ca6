"""From the outbox to Dengage.

* :mod:`.sender`: :class:`~.sender.Sender` drains the outbox (batches,
  backoff, isolating a bad event, leases);
* :mod:`.client`: :class:`~.client.DengageClient`, HTTP only;
* :mod:`.answers`: what an answer means (:func:`~.answers.classify`);
* :mod:`.redaction`: the API key kept out of logs and messages.
"""
