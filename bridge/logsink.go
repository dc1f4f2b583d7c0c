package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/olivere/elastic/v7"
	"github.com/prometheus/client_golang/prometheus"
)

// LogElasticsearchConfig is the optional direct Elasticsearch log sink. URL
// empty: off. Lines go to daily indices IndexPrefix-YYYY.MM.DD, which
// dashboards/elasticsearch/index-template.json maps.
type LogElasticsearchConfig struct {
	URL         string `yaml:"url"`
	IndexPrefix string `yaml:"index_prefix"`
	// Buffer is how many lines may wait for Elasticsearch; beyond it lines
	// are dropped (and counted), never waited for.
	Buffer        int           `yaml:"buffer"`
	FlushInterval time.Duration `yaml:"flush_interval"`
}

func (c LogElasticsearchConfig) validate() error {
	if c.URL == "" {
		return nil
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("log.elasticsearch.url %q: want http://host:port", c.URL)
	}
	if c.IndexPrefix == "" || c.Buffer < 1 || c.FlushInterval <= 0 {
		return fmt.Errorf("log.elasticsearch: index_prefix, buffer >= 1 and flush_interval > 0 are required")
	}
	return nil
}

// logSinkBatch is the most lines sent in one _bulk request.
const logSinkBatch = 500

// LogSink ships the bridge's JSON log lines to Elasticsearch. It is an
// io.Writer for the log handler: Write copies the line into a bounded
// channel and returns at once; a full channel drops the line and counts it.
// One goroutine batches the channel into _bulk requests with exponential
// back-off. A slow or dead Elasticsearch therefore costs requests nothing.
//
// It drives the _bulk API itself rather than through elastic's
// BulkProcessor: that keeps a failed batch queued in its BulkService (v7.0.32
// resets it only on success), so a dead Elasticsearch would grow memory
// without bound. Here a batch that still fails after the back-off is
// dropped and counted.
type LogSink struct {
	client   *elastic.Client
	prefix   string
	every    time.Duration
	ch       chan []byte
	stop     chan struct{}
	done     chan struct{}
	stopped  atomic.Bool
	ctx      context.Context
	cancel   context.CancelFunc
	newRetry func() elastic.Backoff

	dropped, sent prometheus.Counter
}

// NewLogSink starts the sink. It does not contact Elasticsearch (no sniff,
// no health check): a dead one at start-up must not stop the bridge.
func NewLogSink(c LogElasticsearchConfig) (*LogSink, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	client, err := elastic.NewClient(elastic.SetURL(c.URL), elastic.SetSniff(false), elastic.SetHealthcheck(false),
		elastic.SetHttpClient(&http.Client{Timeout: 10 * time.Second}))
	if err != nil {
		return nil, fmt.Errorf("log.elasticsearch: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &LogSink{client: client, prefix: c.IndexPrefix, every: c.FlushInterval,
		ch: make(chan []byte, c.Buffer), stop: make(chan struct{}), done: make(chan struct{}),
		ctx: ctx, cancel: cancel,
		newRetry: func() elastic.Backoff { return elastic.NewExponentialBackoff(100*time.Millisecond, 8*time.Second) },
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "bridge_log_sink_dropped_total",
			Help: "Log lines not delivered to Elasticsearch: buffer full, refused, or still failing after the back-off."}),
		sent: prometheus.NewCounter(prometheus.CounterOpts{Name: "bridge_log_sink_sent_total",
			Help: "Log lines Elasticsearch accepted."}),
	}
	go s.run()
	return s, nil
}

// Collectors are the sink's counters, for the bridge's registry.
func (s *LogSink) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.dropped, s.sent}
}

// Write queues one JSON line (slog writes a record in one call). It never
// blocks and never fails: the log line on stderr must not suffer for it.
func (s *LogSink) Write(p []byte) (int, error) {
	if s.stopped.Load() {
		s.dropped.Inc()
		return len(p), nil
	}
	select {
	case s.ch <- append([]byte(nil), p...):
	default:
		s.dropped.Inc()
	}
	return len(p), nil
}

func (s *LogSink) run() {
	defer close(s.done)
	bulk := s.client.Bulk()
	t := time.NewTicker(s.every)
	defer t.Stop()
	add := func(line []byte) {
		for len(line) > 0 && (line[len(line)-1] == '\n' || line[len(line)-1] == '\r') {
			line = line[:len(line)-1]
		}
		if !json.Valid(line) {
			s.dropped.Inc()
			return
		}
		// The day the line is shipped names the index: at most a
		// flush interval off the line's own @timestamp.
		idx := s.prefix + "-" + time.Now().UTC().Format("2006.01.02")
		bulk.Add(elastic.NewBulkIndexRequest().Index(idx).Doc(json.RawMessage(line)))
		if bulk.NumberOfActions() >= logSinkBatch {
			s.flush(bulk)
		}
	}
	for {
		select {
		case line := <-s.ch:
			add(line)
		case <-t.C:
			s.flush(bulk)
		case <-s.stop:
			for {
				select {
				case line := <-s.ch:
					add(line)
				default:
					s.flush(bulk)
					return
				}
			}
		}
	}
}

// flush sends the batch, retrying with exponential back-off; what is still
// not accepted is counted as dropped and let go.
func (s *LogSink) flush(bulk *elastic.BulkService) {
	n := bulk.NumberOfActions()
	if n == 0 {
		return
	}
	var res *elastic.BulkResponse
	err := elastic.RetryNotify(func() error {
		if s.ctx.Err() != nil {
			return nil // Close gave up: stop retrying
		}
		var err error
		res, err = bulk.Do(s.ctx)
		return err
	}, s.newRetry(), nil)
	switch {
	case err != nil || res == nil:
		s.dropped.Add(float64(n))
	default:
		// Items Elasticsearch refused (a mapping conflict, say) are
		// not retried: they would be refused again.
		s.sent.Add(float64(len(res.Succeeded())))
		s.dropped.Add(float64(len(res.Failed())))
	}
	bulk.Reset()
}

// Close sends what is buffered, within ctx: a stuck Elasticsearch must not
// hold the shutdown. Lines written after Close are dropped.
func (s *LogSink) Close(ctx context.Context) error {
	if s.stopped.Swap(true) {
		return nil
	}
	close(s.stop)
	select {
	case <-s.done:
		s.cancel()
		return nil
	case <-ctx.Done():
		// Abandon the batch in flight; the goroutine ends on its own.
		s.cancel()
		return ctx.Err()
	}
}
