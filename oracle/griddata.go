package oracle

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/refdata"
)

// Grid data that operators import: emission-factor tables to publish as a
// dataset (R9), and the grid's surplus or curtailment hours per region.
// Factors in the files are g/kWh as published (decimals allowed, up to
// three), kept as gCO2e/MWh integers.

func readTable(r io.Reader, header string) ([][]string, error) {
	cr := csv.NewReader(r)
	rows, err := cr.ReadAll()
	if err != nil {
		return nil, greenmint.E(greenmint.EINVALID, "", err, "CSV")
	}
	if len(rows) == 0 || strings.Join(rows[0], ",") != header {
		return nil, greenmint.Errorf(greenmint.EINVALID, "the CSV header must be %q", header)
	}
	return rows[1:], nil
}

func gPerMWh(line int, s string) (int64, error) {
	v, err := refdata.ParseDecimal(s, 3)
	if err != nil {
		return 0, greenmint.E(greenmint.EINVALID, "", err, "line %d", line)
	}
	return v, nil
}

// Headers of the grid-data CSV files.
const (
	GridFactorsHeader   = "region,firm_g_per_kwh,intermittent_g_per_kwh"
	LifecycleHeader     = "technology,g_per_kwh"
	HourlyFactorsHeader = "region,hour,g_per_kwh"
	GridStatesHeader    = "region,hour,state"
)

// ParseGridFactors reads combined-margin factors per region.
func ParseGridFactors(r io.Reader) ([]greenmint.GridFactor, error) {
	rows, err := readTable(r, GridFactorsHeader)
	if err != nil {
		return nil, err
	}
	out := make([]greenmint.GridFactor, 0, len(rows))
	for i, row := range rows {
		f, err1 := gPerMWh(i+2, row[1])
		in, err2 := gPerMWh(i+2, row[2])
		if err := errors.Join(err1, err2); err != nil {
			return nil, err
		}
		out = append(out, greenmint.GridFactor{Region: row[0], Firm: f, Intermittent: in})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Region < out[j].Region })
	return out, nil
}

// ParseLifecycle reads lifecycle factors per technology.
func ParseLifecycle(r io.Reader) ([]greenmint.LifecycleFactor, error) {
	rows, err := readTable(r, LifecycleHeader)
	if err != nil {
		return nil, err
	}
	out := make([]greenmint.LifecycleFactor, 0, len(rows))
	for i, row := range rows {
		f, err := gPerMWh(i+2, row[1])
		if err != nil {
			return nil, err
		}
		out = append(out, greenmint.LifecycleFactor{Technology: row[0], Factor: f})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Technology < out[j].Technology })
	return out, nil
}

// ParseHourlyFactors reads hourly factor series per region.
func ParseHourlyFactors(r io.Reader) ([]greenmint.HourlyFactor, error) {
	rows, err := readTable(r, HourlyFactorsHeader)
	if err != nil {
		return nil, err
	}
	out := make([]greenmint.HourlyFactor, 0, len(rows))
	for i, row := range rows {
		if _, err := greenmint.ParseHour(row[1]); err != nil {
			return nil, fmt.Errorf("line %d: %w", i+2, err)
		}
		f, err := gPerMWh(i+2, row[2])
		if err != nil {
			return nil, err
		}
		out = append(out, greenmint.HourlyFactor{Region: row[0], Hour: row[1], Factor: f})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Region != out[j].Region {
			return out[i].Region < out[j].Region
		}
		return out[i].Hour < out[j].Hour
	})
	return out, nil
}

// GridState is a region's state in one hour.
type GridState struct {
	Region string
	Hour   string
	State  string // surplus or normal
}

// ParseGridStates reads surplus or curtailment hours per region.
func ParseGridStates(r io.Reader) ([]GridState, error) {
	rows, err := readTable(r, GridStatesHeader)
	if err != nil {
		return nil, err
	}
	out := make([]GridState, 0, len(rows))
	for i, row := range rows {
		if _, err := greenmint.ParseHour(row[1]); err != nil {
			return nil, fmt.Errorf("line %d: %w", i+2, err)
		}
		if row[2] != greenmint.GridSurplus && row[2] != greenmint.GridNormal {
			return nil, greenmint.Errorf(greenmint.EINVALID, "line %d: state %q is neither surplus nor normal", i+2, row[2])
		}
		out = append(out, GridState{Region: row[0], Hour: row[1], State: row[2]})
	}
	return out, nil
}
