"""The documents of a round: compilations, drafts and their treatment."""
