package main

// The shop's time zone (faka.ShopSettings.Timezone) must load on minimal
// machines and containers that have no zone database: the binary carries
// its own.
import _ "time/tzdata"
