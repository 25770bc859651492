"""The web portal: server-rendered pages through which an agency acts from its e-mail (issue 18)."""
