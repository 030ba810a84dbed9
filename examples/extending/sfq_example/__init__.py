"""An example extension of streamflow-quantum: one backend and one packing policy."""
