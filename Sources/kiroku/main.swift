// The `kiroku` command: the KirokuCLI commands with the built-in projections (event counts,
// latest state per key) and the store's search views.
import Foundation
import KirokuCLI

exit(await KirokuCLI.main())
