"""The core: the Simulator service, runs, schedules and reports. No HTTP here; the API and the CLI drive it."""
