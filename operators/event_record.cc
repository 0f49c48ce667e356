#include "operators/event_record.h"

#include <xxhash.h>

namespace promowatch {

uint64_t HashId(std::string_view id) { return XXH3_64bits(id.data(), id.size()); }

}  // namespace promowatch
