// SPDX-License-Identifier: MIT

// goworker: the Go peer taskjet is measured against in bench/run.sh. It
// is written the way the teams in the origin documents write their
// workers with nats.go's legacy JetStream API: bind to an existing durable
// pull consumer, Fetch(batch) in a loop, handle each message (here: a
// no-op) and Ack it (asynchronous, as Msg.Ack is).
//
//	goworker -s URL -stream STREAM -durable NAME -subject SUBJECT
//	         [-batch 500] [-T 300]
//
// It consumes until SIGTERM or SIGINT (checked between fetches, so a stop
// takes at most one fetch wait) or until -T seconds have passed, flushes
// the acks and exits 0; the caller (tjbench drain) times it from outside.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
)

func main() {
	url := flag.String("s", nats.DefaultURL, "server URL")
	stream := flag.String("stream", "", "stream of the durable (required)")
	durable := flag.String("durable", "", "durable pull consumer to bind to (required)")
	subject := flag.String("subject", "", "the durable's filter subject (required)")
	batch := flag.Int("batch", 500, "messages per Fetch")
	limit := flag.Int("T", 300, "exit after this many seconds at most")
	flag.Parse()
	if *stream == "" || *durable == "" || *subject == "" || *batch < 1 || *limit < 1 {
		flag.Usage()
		os.Exit(2)
	}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)

	nc, err := nats.Connect(*url)
	if err != nil {
		fatal("connect", err)
	}
	js, err := nc.JetStream()
	if err != nil {
		fatal("jetstream", err)
	}
	sub, err := js.PullSubscribe(*subject, *durable, nats.Bind(*stream, *durable))
	if err != nil {
		fatal("pull subscribe", err)
	}

	deadline := time.Now().Add(time.Duration(*limit) * time.Second)
	handled := 0
	for time.Now().Before(deadline) {
		select {
		case <-stop:
			deadline = time.Now()
			continue
		default:
		}
		msgs, err := sub.Fetch(*batch, nats.MaxWait(time.Second))
		if err != nil && !errors.Is(err, nats.ErrTimeout) {
			fatal("fetch", err)
		}
		for _, m := range msgs {
			handle(m)
			if err := m.Ack(); err != nil {
				fatal("ack", err)
			}
			handled++
		}
	}
	if err := nc.Flush(); err != nil {
		fatal("flush", err)
	}
	nc.Close()
	fmt.Fprintf(os.Stderr, "goworker: handled %d\n", handled)
}

// handle is the worker's task handler: a no-op, like fx_noop on the
// taskjet side.
func handle(m *nats.Msg) {
	_ = m.Data
}

func fatal(what string, err error) {
	fmt.Fprintf(os.Stderr, "goworker: %s: %v\n", what, err)
	os.Exit(1)
}
