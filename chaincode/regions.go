package chaincode

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/greenmint/greenmint"
)

// The index of grid regions. PublishDataset writes, for every region of a
// dataset's grid factors, one small key (gridregion/<region>) listing the
// datasets that have the region. RegisterSite and AmendSite read that one
// key to accept a site's grid region, and read the whole index (one key per
// region, a few hundred) only to explain a refusal. Decision: once any
// dataset is published, a site's grid region must be a region of some
// published dataset, whatever the site's country: a site whose region no
// dataset has could never mint. On a ledger with no dataset yet, only the
// region's form is checked. A ledger whose datasets were published before
// the index existed is indexed by its next PublishDataset; until then
// RegisterSite reads the datasets themselves.

// gridRegionForm says what a grid region code looks like, for messages.
const gridRegionForm = `upper-case letters and digits in groups joined by "-", such as ES or ES-CN`

// regionEntry is the value of a region's index key.
type regionEntry struct {
	Datasets []datasetRef `json:"datasets"` // sorted by ID, then version
}

// datasetRef names one dataset version.
type datasetRef struct {
	ID      string `json:"id"`
	Version string `json:"version"`
}

func (r datasetRef) less(o datasetRef) bool {
	return r.ID < o.ID || (r.ID == o.ID && r.Version < o.Version)
}

// indexRegions adds d to the index of each of its grid factors' regions,
// first indexing every dataset already published if the index is empty
// (a ledger written before the index existed).
func (t *txn) indexRegions(d *greenmint.DatasetContent) error {
	indexed, err := t.anyKey(kindGridRegion)
	if err != nil {
		return err
	}
	if !indexed {
		_, vals, err := t.scan(kindDataset)
		if err != nil {
			return err
		}
		for _, raw := range vals {
			var old greenmint.Dataset
			if err := json.Unmarshal(raw, &old); err != nil {
				return fmt.Errorf("chaincode: decode dataset: %w", err)
			}
			if err := t.addRegions(&old.DatasetContent); err != nil {
				return err
			}
		}
	}
	return t.addRegions(d)
}

// addRegions records d under each of its grid factors' regions. A region
// that is not a grid region code (possible only in a dataset published
// before codes were checked) is left out: no site can have it.
func (t *txn) addRegions(d *greenmint.DatasetContent) error {
	ref := datasetRef{ID: d.ID, Version: d.Version}
	for _, g := range d.GridFactors {
		if !greenmint.IsGridRegion(g.Region) {
			continue
		}
		var e regionEntry
		if _, err := t.get(&e, kindGridRegion, g.Region); err != nil {
			return err
		}
		i := sort.Search(len(e.Datasets), func(i int) bool { return !e.Datasets[i].less(ref) })
		if i < len(e.Datasets) && e.Datasets[i] == ref {
			continue
		}
		e.Datasets = append(e.Datasets[:i], append([]datasetRef{ref}, e.Datasets[i:]...)...)
		if err := t.put(e, kindGridRegion, g.Region); err != nil {
			return err
		}
	}
	return nil
}

// anyKey reports whether any key of kind exists, reading at most one.
func (t *txn) anyKey(kind string) (bool, error) {
	it, err := t.st.GetStateByPartialCompositeKey(kind, []string{})
	if err != nil {
		return false, fmt.Errorf("chaincode: scan %s: %w", kind, err)
	}
	defer it.Close()
	return it.HasNext(), nil
}

// datasetRegions is one published dataset's grid regions, sorted.
type datasetRegions struct {
	ref     datasetRef
	regions []string
}

// publishedRegions lists the published datasets' grid regions, sorted by
// dataset: from the index, or, on a ledger not indexed yet, from the
// datasets themselves.
func (t *txn) publishedRegions() ([]datasetRegions, error) {
	keys, vals, err := t.scan(kindGridRegion)
	if err != nil {
		return nil, err
	}
	by := map[datasetRef][]string{}
	for i, raw := range vals {
		var e regionEntry
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, fmt.Errorf("chaincode: decode grid region index: %w", err)
		}
		for _, ref := range e.Datasets {
			by[ref] = append(by[ref], keys[i][0])
		}
	}
	if len(vals) == 0 {
		_, vals, err := t.scan(kindDataset)
		if err != nil {
			return nil, err
		}
		for _, raw := range vals {
			var d greenmint.Dataset
			if err := json.Unmarshal(raw, &d); err != nil {
				return nil, fmt.Errorf("chaincode: decode dataset: %w", err)
			}
			ref := datasetRef{ID: d.ID, Version: d.Version}
			for _, g := range d.GridFactors {
				by[ref] = append(by[ref], g.Region)
			}
		}
	}
	out := make([]datasetRegions, 0, len(by))
	for ref, regions := range by {
		sort.Strings(regions)
		out = append(out, datasetRegions{ref: ref, regions: regions})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ref.less(out[j].ref) })
	return out, nil
}

// checkGridRegion accepts a site's grid region written as a grid region
// code that a published dataset has (any code while none is published),
// reading one key of the index. A refusal (EINVALID) says what a valid
// region looks like and which regions the published datasets have,
// starting with the site's country's.
func (t *txn) checkGridRegion(region, country string) error {
	wellFormed := greenmint.IsGridRegion(region)
	if wellFormed {
		if ok, err := t.get(nil, kindGridRegion, region); err != nil || ok {
			return err
		}
	}
	published, err := t.publishedRegions()
	if err != nil {
		return err
	}
	if !wellFormed {
		if len(published) == 0 {
			return greenmint.Errorf(greenmint.EINVALID, "grid_region %q is not a grid region code (%s); no emission-factor dataset is published yet: use the code the registry's dataset uses for the site's grid, usually the ISO 3166-1 alpha-2 code of its country", region, gridRegionForm)
		}
		list, advice := regionHelp(published, country)
		return greenmint.Errorf(greenmint.EINVALID, "grid_region %q is not a grid region code (%s); %s; %s", region, gridRegionForm, list, advice)
	}
	if len(published) == 0 {
		return nil // no dataset published yet: the form is all there is to check
	}
	for _, p := range published {
		if i := sort.SearchStrings(p.regions, region); i < len(p.regions) && p.regions[i] == region {
			return nil // a dataset published before the index existed has it
		}
	}
	list, advice := regionHelp(published, country)
	return greenmint.Errorf(greenmint.EINVALID, "grid_region %q is not a region of any published dataset (%s); %s", region, list, advice)
}

// Bounds of a refusal's list of regions.
const (
	helpDatasets = 3
	helpRegions  = 12
)

// regionHelp lists the regions the published datasets have, the site's
// country's first, and advises what to write.
func regionHelp(published []datasetRegions, country string) (list, advice string) {
	var b strings.Builder
	countryIsRegion := false
	for n, p := range published {
		if n == helpDatasets {
			fmt.Fprintf(&b, "; %d more datasets", len(published)-n)
			break
		}
		if n > 0 {
			b.WriteString("; ")
		}
		plural := "s"
		if len(p.regions) == 1 {
			plural = ""
		}
		fmt.Fprintf(&b, "%s %s has %d region%s: ", p.ref.ID, p.ref.Version, len(p.regions), plural)
		var first, rest []string
		for _, r := range p.regions {
			if r == country || strings.HasPrefix(r, country+"-") {
				first = append(first, r)
				countryIsRegion = countryIsRegion || r == country
			} else {
				rest = append(rest, r)
			}
		}
		shown := append(first, rest...)
		if len(shown) > helpRegions {
			shown = append(shown[:helpRegions:helpRegions], "…")
		}
		b.WriteString(strings.Join(shown, ", "))
	}
	if countryIsRegion {
		return b.String(), fmt.Sprintf("use the code of the site's grid as the dataset writes it: for a site on the grid of its country, the ISO 3166-1 alpha-2 code %s", country)
	}
	return b.String(), "use the code of the site's grid as the dataset writes it, usually an ISO 3166-1 alpha-2 code (GetDataset lists a dataset's regions)"
}
