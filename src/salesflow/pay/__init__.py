"""Pay from the conveyor's own trail: pay plans as data, credit split between the people
who carried each stage, statements per person and period, closed periods."""
