# Fork storm and exits during a transition held open: children inherit their
# parent's universe, exiting tasks release their entries, the pending count
# stays exact (the transition completes as soon as the holder is released),
# and no unit mixes versions.
# timeout: 240
. ./lib.sh
load_core_and_target
held_fork_storm
release_storm_and_unload
