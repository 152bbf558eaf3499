-- make_code() is the app's own function: its volatility is not known here.
ALTER TABLE events ADD COLUMN code text DEFAULT make_code();
