"""Queue policies: the order in which the broker offers queued programs to the packer."""
