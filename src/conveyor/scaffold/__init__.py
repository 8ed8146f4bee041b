"""`conveyor init`: scaffold a new project that compiles and runs."""
