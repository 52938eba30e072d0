package api

import (
	"net"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Login rate limits per client address (defaults of Options).
const (
	defaultLoginRate  = 5  // attempts per second, sustained
	defaultLoginBurst = 20 // attempts at once
	// limiterIdle: a client's limiter is forgotten after this long unused.
	limiterIdle = 10 * time.Minute
)

// loginLimiter bounds the login attempts of each client address, so that
// no client can make the node spend its CPU on password hashing (a login
// of an unknown user costs one bcrypt too) or guess passwords of many
// users quickly. The per-user lockout (lakehouse/auth) bounds guesses of
// one user's password across addresses.
type loginLimiter struct {
	limit rate.Limit
	burst int

	mu      sync.Mutex
	clients map[string]*clientLimiter
	swept   time.Time
}

type clientLimiter struct {
	lim  *rate.Limiter
	used time.Time
}

func newLoginLimiter(perSecond float64, burst int) *loginLimiter {
	return &loginLimiter{limit: rate.Limit(perSecond), burst: burst, clients: map[string]*clientLimiter{}}
}

// allow reports whether the client at addr (host:port or host) may try a
// login now.
func (l *loginLimiter) allow(addr string, now time.Time) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > limiterIdle {
		for k, c := range l.clients {
			if now.Sub(c.used) > limiterIdle {
				delete(l.clients, k)
			}
		}
		l.swept = now
	}
	c, ok := l.clients[host]
	if !ok {
		c = &clientLimiter{lim: rate.NewLimiter(l.limit, l.burst)}
		l.clients[host] = c
	}
	c.used = now
	return c.lim.AllowN(now, 1)
}
