"""The live sink: the device sink, the player, the terminal screen."""
