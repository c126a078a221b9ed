// placeholder until the stage tests are written
