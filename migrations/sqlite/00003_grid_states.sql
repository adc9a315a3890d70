-- +goose Up
-- The grid's surplus or curtailment hours per region, imported by operators and recorded on
-- each attested hour.
CREATE TABLE grid_states (
    region TEXT    NOT NULL,
    hour   INTEGER NOT NULL, -- Unix seconds of the hour's start
    state  TEXT    NOT NULL, -- surplus or normal
    PRIMARY KEY (region, hour)
) WITHOUT ROWID;

-- +goose Down
DROP TABLE grid_states;
