"""Built-in components, registered through conveyor's own entry points like any plugin."""
