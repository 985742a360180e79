// Configuration of the event manager: triggers → actions (email, syslog, relays, buzzer,
// webhooks, commands). See docs/events.md.
#pragma once

namespace equalis::model {

struct EventsConfig {};

}  // namespace equalis::model
