"""Mail limits shared by `monitoring.mail` and the settings, in a module with no imports.

warehouse/settings.py is loaded by every `tastemaker` command; taking the default from here rather
than from monitoring.mail keeps smtplib, ssl and the email package out of commands that never
mail.
"""

#: Largest report attachment, counted as it travels (base64: a third larger than the file).
#: Many servers refuse messages over 10 MB (Postfix's default limit is 10,240,000 bytes, the
#: whole message); the drift report of the default world is 6.3 MB, 8.7 MB encoded, so it is
#: attached as plain HTML that mail clients open, with room left for the text, HTML and chart.
DEFAULT_MAX_ATTACHMENT_BYTES = 10_000_000
