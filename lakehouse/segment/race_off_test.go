//go:build !race

package segment_test

// raceEnabled: the race detector slows the long tests down ~10×.
const raceEnabled = false
