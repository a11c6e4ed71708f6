"""Mail and answers that come in: the mailbox, parsing, matching by token, files, answers."""
