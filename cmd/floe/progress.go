package main

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// spinnerFrames are drawn in turn while a call runs.
var spinnerFrames = [...]string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// progress draws a spinner with the elapsed time on a terminal while a
// slow call runs. The zero progress (or one whose w is nil) draws nothing,
// which is what callers use when stderr is not a terminal, so that pipes
// and tests never see it.
type progress struct {
	// w is the terminal to draw on; nil disables the spinner.
	w io.Writer
	// delay is how long a call runs before the spinner appears. Default:
	// 500 ms.
	delay time.Duration
	// interval is the time between frames. Default: 100 ms.
	interval time.Duration
}

// start shows the spinner after the delay, until the returned stop is
// called. stop clears the line (when something was drawn) and returns
// only once nothing more will be written, so output that follows is not
// interleaved with the spinner.
func (p progress) start() (stop func()) {
	if p.w == nil {
		return func() {}
	}
	delay, interval := p.delay, p.interval
	if delay <= 0 {
		delay = 500 * time.Millisecond
	}
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	begin := time.Now()
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		timer := time.NewTimer(delay)
		defer timer.Stop()
		select {
		case <-done:
			return
		case <-timer.C:
		}
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		for frame := 0; ; frame++ {
			elapsed := time.Since(begin).Truncate(100 * time.Millisecond)
			fmt.Fprintf(p.w, "\r\033[K%s running… %s", spinnerFrames[frame%len(spinnerFrames)], elapsed)
			select {
			case <-done:
				fmt.Fprint(p.w, "\r\033[K")
				return
			case <-ticker.C:
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			<-finished
		})
	}
}
