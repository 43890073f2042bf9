"""Deliver: what the warehouse concluded, sent to people.

Takes in: digest rows gathered by ``jobs`` (``DigestData``) and the SMTP settings.
Gives out: a rendered multipart e-mail (``digest``, with its autoescaped ``templates/``)
and its delivery over SMTP (``mailer``).

Imports: ``errors``, ``models``, ``config``. Imported by ``jobs`` and ``cli``; never by an
earlier stage.
"""
