class Error(Exception):
    """A recoverable error: returned to the host as the call's `err` (from
    setup it stops the plugin for good). Any other exception traps the
    instance, and the host restarts the plugin, as after a Rust panic."""
