package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/greenmint/greenmint/api"
	"github.com/greenmint/greenmint/internal/greenminttest"
)

// million is how many listings and holdings BenchmarkMarketplaceList1M
// loads into the read model.
const million = 1_000_000

// BenchmarkMarketplaceList1M measures filtered, paginated lists over HTTP
// with one million listings and one million holdings (and 10,000 batches)
// in PostgreSQL's read model: the marketplace as a buyer (open listings by
// instrument, country, technology and vintage, ten pages deep by cursor)
// and an auditor's holdings search, 400 requests in all; it reports the
// p99 latency. Loading the rows takes about a minute, so it runs only with
// GREENMINT_BENCH_1M=1 and GREENMINT_TEST_POSTGRES_DSN (docs/benchmarks.md
// gives the command).
func BenchmarkMarketplaceList1M(b *testing.B) {
	if os.Getenv("GREENMINT_BENCH_1M") == "" {
		b.Skip("set GREENMINT_BENCH_1M=1 (and GREENMINT_TEST_POSTGRES_DSN) to load a million listings and holdings")
	}
	db, ok := greenminttest.StoreDBs(b)["postgres"]
	if !ok {
		b.Skip("GREENMINT_TEST_POSTGRES_DSN is not set")
	}
	e := newGatewayEnv(b, db, envOptions{})
	ctx := context.Background()
	load := time.Now()
	for _, q := range []string{
		`INSERT INTO rm_batches (id, instrument, site_id, country, owner, vintage, technologies, issued, tradable, escrowed, retired, cancelled, status, open_flags, doc)
		 SELECT 'B' || lpad(i::text, 6, '0'), CASE WHEN i % 2 = 0 THEN 'CO2E' ELSE 'EAC' END, 'SITE' || (i % 500), (ARRAY['ES','DE','FR','PT','US'])[1 + i % 5],
		        'Org' || (i % 100) || 'MSP', 2020 + i % 6, CASE WHEN i % 3 = 0 THEN ',solar_pv_utility,' ELSE ',wind_onshore,' END,
		        1000000000, 1000000000, 0, 0, 0, 'active', 0,
		        json_build_object('id', 'B' || lpad(i::text, 6, '0'), 'instrument', CASE WHEN i % 2 = 0 THEN 'CO2E' ELSE 'EAC' END, 'site_id', 'SITE' || (i % 500),
		          'country', (ARRAY['ES','DE','FR','PT','US'])[1 + i % 5], 'owner', 'Org' || (i % 100) || 'MSP', 'issued', 1000000000, 'tradable', 1000000000,
		          'status', 'active', 'period_start', (2020 + i % 6) || '-06-01T00:00:00Z', 'period_end', (2020 + i % 6) || '-06-08T00:00:00Z')::text
		 FROM generate_series(1, 10000) AS i`,
		fmt.Sprintf(`INSERT INTO rm_listings (id, batch_id, seller, buyer, quantity, price_minor, currency, status, doc)
		 SELECT 'L' || lpad(i::text, 7, '0'), 'B' || lpad((1 + i %% 10000)::text, 6, '0'), 'Org' || (i %% 100) || 'MSP', '', 1000 + i %% 997, 100 * (1 + i %% 500), 'EUR',
		        CASE WHEN i %% 4 = 0 THEN 'sold' ELSE 'open' END,
		        json_build_object('id', 'L' || lpad(i::text, 7, '0'), 'batch_id', 'B' || lpad((1 + i %% 10000)::text, 6, '0'), 'seller', 'Org' || (i %% 100) || 'MSP',
		          'quantity', 1000 + i %% 997, 'price_minor', 100 * (1 + i %% 500), 'currency', 'EUR', 'status', CASE WHEN i %% 4 = 0 THEN 'sold' ELSE 'open' END,
		          'created_at', '2026-01-01T00:00:00Z', 'updated_at', '2026-01-01T00:00:00Z')::text
		 FROM generate_series(1, %d) AS i`, million),
		fmt.Sprintf(`INSERT INTO rm_holdings (batch_id, owner, tradable, escrowed)
		 SELECT 'B' || lpad((1 + i %% 10000)::text, 6, '0'), 'Holder' || (i / 10000) || 'MSP', 1000 + i %% 13, 0
		 FROM generate_series(0, %d) AS i`, million-1),
		`ANALYZE rm_batches`, `ANALYZE rm_listings`, `ANALYZE rm_holdings`,
	} {
		if _, err := db.ExecReadModel(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("loaded %d listings and %d holdings in %s", million, million, time.Since(load).Round(time.Second))

	type query struct {
		path, tok string
		pages     int
	}
	var queries []query
	for _, f := range []string{"instrument=CO2E&country=DE", "technology=solar_pv_utility&vintage=2023", "country=PT&instrument=EAC&vintage=2021", "vintage=2025"} {
		queries = append(queries, query{"/v1/listings?limit=50&" + f, e.as("buyer"), 10})
	}
	for _, f := range []string{"owner=Holder7MSP", "owner=Holder42MSP&country=FR", "owner=Holder99MSP&instrument=CO2E&technology=wind_onshore"} {
		queries = append(queries, query{"/v1/holdings?limit=100&" + f, e.as("auditor"), 10})
	}
	var lat []time.Duration
	b.ResetTimer()
	for len(lat) < 400 {
		for _, q := range queries {
			path := q.path
			for p := 0; p < q.pages && path != ""; p++ {
				req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
				req.Header.Set("Authorization", "Bearer "+q.tok)
				t0 := time.Now()
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				body, err := io.ReadAll(res.Body)
				res.Body.Close()
				lat = append(lat, time.Since(t0))
				if err != nil || res.StatusCode != 200 {
					b.Fatalf("GET %s = %d %s", path, res.StatusCode, body)
				}
				var page api.List[json.RawMessage]
				if err := json.Unmarshal(body, &page); err != nil || len(page.Items) == 0 {
					b.Fatalf("GET %s: %d items (%v)", path, len(page.Items), err)
				}
				path = ""
				if l := res.Header.Get("Link"); l != "" {
					path = l[1 : len(l)-len(`>; rel="next"`)]
				}
			}
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	report(b, "api_list_p99_ms_1m", p99(lat), "ms")
	report(b, "api_list_median_ms_1m", float64(lat[len(lat)/2])/float64(time.Millisecond), "ms")
}
