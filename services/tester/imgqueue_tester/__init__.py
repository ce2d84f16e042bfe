"""imgqueue tester: uploads sample images and follows their jobs to the end."""
