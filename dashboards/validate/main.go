// Command validate checks dashboards JSON against the Grafana foundation SDK's schema: each file is
// decoded strictly (unknown or mistyped fields are errors) with every panel's options and field
// config decoded by its panel type, and validated. The ClickHouse plugin's queries, which the SDK
// does not model, are decoded strictly into the shape dashboards/src/clickhouse-query.ts writes.
//
//	go run . ../json/*.json
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: validate DASHBOARD.json…")
		os.Exit(2)
	}
	plugins.RegisterDefaultPlugins()
	cog.NewRuntime().RegisterDataqueryVariant(variants.DataqueryConfig{
		Identifier:                 "grafana-clickhouse-datasource",
		DataqueryUnmarshaler:       decodeClickHouseQuery,
		StrictDataqueryUnmarshaler: decodeClickHouseQuery,
	})
	failed := false
	for _, path := range os.Args[1:] {
		if err := validate(path); err != nil {
			fmt.Printf("%s: INVALID\n%v\n", path, err)
			failed = true
			continue
		}
		fmt.Printf("%s: valid\n", path)
	}
	if failed {
		os.Exit(1)
	}
}

func validate(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var d dashboard.Dashboard
	if err := nonEmpty(d.UnmarshalJSONStrict(raw)); err != nil {
		return err
	}
	return nonEmpty(d.Validate())
}

// nonEmpty turns the SDK's empty error list (a non-nil error holding no errors) into nil.
func nonEmpty(err error) error {
	var list cog.BuildErrors
	if errors.As(err, &list) && len(list) == 0 {
		return nil
	}
	return err
}

// ClickHouseQuery is a grafana-clickhouse-datasource (v4) SQL query as tokenwatch writes it.
type ClickHouseQuery struct {
	RefId      string                `json:"refId"`
	Datasource *common.DataSourceRef `json:"datasource"`
	EditorType string                `json:"editorType"`
	QueryType  string                `json:"queryType"`
	Format     *int                  `json:"format"`
	RawSql     string                `json:"rawSql"`
	Hide       *bool                 `json:"hide,omitempty"`
}

func (q ClickHouseQuery) ImplementsDataqueryVariant() {}
func (q ClickHouseQuery) DataqueryType() string       { return "grafana-clickhouse-datasource" }
func (q ClickHouseQuery) Equals(other variants.Dataquery) bool {
	o, ok := other.(ClickHouseQuery)
	return ok && o.RawSql == q.RawSql && o.RefId == q.RefId
}

func (q ClickHouseQuery) Validate() error {
	var errs []error
	if q.RefId == "" {
		errs = append(errs, errors.New("refId is empty"))
	}
	if q.Datasource == nil || q.Datasource.Type == nil || *q.Datasource.Type != "grafana-clickhouse-datasource" {
		errs = append(errs, errors.New("datasource must be a grafana-clickhouse-datasource reference"))
	}
	if q.EditorType != "sql" {
		errs = append(errs, fmt.Errorf("editorType %q, want sql", q.EditorType))
	}
	want := map[string]int{"table": 1, "timeSeries": 0}
	if f, ok := want[q.QueryType]; !ok {
		errs = append(errs, fmt.Errorf("queryType %q, want table or timeSeries", q.QueryType))
	} else if q.Format == nil || *q.Format != f {
		errs = append(errs, fmt.Errorf("format must be %d for queryType %s", f, q.QueryType))
	}
	if q.RawSql == "" {
		errs = append(errs, errors.New("rawSql is empty"))
	}
	return errors.Join(errs...)
}

func decodeClickHouseQuery(raw []byte) (variants.Dataquery, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var q ClickHouseQuery
	if err := dec.Decode(&q); err != nil {
		return nil, fmt.Errorf("ClickHouse query: %w", err)
	}
	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("ClickHouse query %s: %w", q.RefId, err)
	}
	return q, nil
}
