// The umbrella module: `import Kiroku` is the whole library (the log, the feed, projections
// and search views). Each part is also a module of its own (`KirokuLog`, `KirokuFeed`,
// `KirokuProjections`, `KirokuSearch`) for code that wants less.
@_exported import KirokuFeed
@_exported import KirokuLog
@_exported import KirokuWriteModel
@_exported import KirokuProjections
@_exported import KirokuSearch
@_exported import KirokuNATS
@_exported import KirokuScaleOut
