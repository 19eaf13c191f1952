# Sourced by the scripts: lets OpenMPI run as root (containers, CI) and oversubscribe small machines.
export OMPI_ALLOW_RUN_AS_ROOT=1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
# Containers often lack a usable shared-memory transport for CMA; vader without it still works.
export OMPI_MCA_btl_vader_single_copy_mechanism=none
