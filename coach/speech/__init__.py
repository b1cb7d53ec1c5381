"""Speech: engines behind one interface, a content-addressed clip cache, and batch synthesis."""
