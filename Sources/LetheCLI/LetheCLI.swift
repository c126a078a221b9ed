// LetheCLI: Options shared by the stage executables, progress reporting and the shard-parallel stage harness.
