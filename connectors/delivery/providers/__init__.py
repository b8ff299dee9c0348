"""Push providers behind one interface: start(), send_batch(sends) -> outcomes, close()."""
