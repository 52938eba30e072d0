package livebus

// FaultEnv names the environment variable that makes a Publisher lose
// publishes on purpose, in a process built with the floe_faultinject
// build tag (the e2e bus tests build such a binary): "drop=P,seed=N"
// loses each batch with probability P, before it is sent, with decisions
// drawn from a generator seeded with N (default 1). A binary built
// without the tag refuses to start when it is set (CheckFaultEnv).
const FaultEnv = "FLOE_FAULT_BUS"
