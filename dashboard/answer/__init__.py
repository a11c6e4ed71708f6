"""The participants' answer form: opened by the personal link in their mail, no sign-in."""
