#include "sim/plant_sim.hpp"
