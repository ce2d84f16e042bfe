"""imgqueue's tester: an HTTP client that uploads a folder of images and follows every job to the end."""
