package greenmint

// Registration is the file a miner gives `greenmint register --file`: the
// sites and meters to register, each pending until the registry approves it.
// docs/registration/schema.json is its JSON Schema and
// docs/registration/example.json a complete example.
type Registration struct {
	Sites  []RegisterSiteRequest  `json:"sites"`
	Meters []RegisterMeterRequest `json:"meters"`
}
