// Only the header matters: see include/CLibFuzzer.h.
#include "CLibFuzzer.h"
