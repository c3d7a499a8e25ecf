# SPDX-License-Identifier: MIT
# SrmInstall.cmake: what `cmake --install` puts on a system besides the two
# programs (whose rules live next to their targets in CMakeLists.txt):
#   bin/srm-keygen                     scripts/keygen.sh, adapted to life outside the source tree
#   share/man/man{1,8}/srm-*.{1,8}     man pages built from docs/man/*.scd when scdoc is found
#   lib/systemd/system/srm-relay.service   the hardened unit, ExecStart pointing at the install prefix
#   share/doc/srm/SERVICE.md           how to run the relay as a service
# Included from the top-level CMakeLists.txt after include(GNUInstallDirs).

# --- srm-keygen ---------------------------------------------------------------
# In the source tree keygen.sh defaults to keys/ at the top of the tree and
# calls itself keygen.sh; installed as srm-keygen in bin/ neither is true
# (the tree's keys/ would be /usr/keys).  Rewrite those few strings at
# configure time rather than keep a second copy of the script, and re-run
# CMake whenever keygen.sh changes.
set(_srm_keygen_src ${CMAKE_SOURCE_DIR}/scripts/keygen.sh)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_srm_keygen_src})
file(READ ${_srm_keygen_src} _srm_keygen)
set(_srm_keygen_default_dir [[dir="$script_dir/../keys"]])
string(FIND "${_srm_keygen}" "${_srm_keygen_default_dir}" _srm_pos)
if(_srm_pos EQUAL -1)
  message(WARNING "scripts/keygen.sh no longer sets ${_srm_keygen_default_dir}: "
    "the installed srm-keygen may default to a key directory outside the working directory; "
    "update cmake/SrmInstall.cmake")
endif()
string(REPLACE "${_srm_keygen_default_dir}" "dir=keys" _srm_keygen "${_srm_keygen}")
string(REPLACE "keys/ at the top of the source tree" "keys/ in the working directory"
  _srm_keygen "${_srm_keygen}")
string(REPLACE "scripts/keygen.sh" "srm-keygen" _srm_keygen "${_srm_keygen}")
string(REPLACE "keygen.sh" "srm-keygen" _srm_keygen "${_srm_keygen}")
# A source-tree version marker, if the script has one, becomes the release.
string(REGEX REPLACE "\nsrm_version=[^\n]*" "\nsrm_version=${PROJECT_VERSION}"
  _srm_keygen "${_srm_keygen}")
# Write through configure_file so the output's time stamp only moves when it changes.
file(WRITE ${CMAKE_BINARY_DIR}/srm-keygen.tmp "${_srm_keygen}")
configure_file(${CMAKE_BINARY_DIR}/srm-keygen.tmp ${CMAKE_BINARY_DIR}/srm-keygen COPYONLY)
install(PROGRAMS ${CMAKE_BINARY_DIR}/srm-keygen DESTINATION ${CMAKE_INSTALL_BINDIR})

# --- man pages ------------------------------------------------------------------
find_program(SRM_SCDOC scdoc)
set(_srm_man_pages srm-relay.8 srm-client.1 srm-keygen.1)
if(SRM_SCDOC)
  set(_srm_man_outputs)
  foreach(page ${_srm_man_pages})
    set(_in ${CMAKE_SOURCE_DIR}/docs/man/${page}.scd)
    set(_out ${CMAKE_BINARY_DIR}/man/${page})
    string(REGEX MATCH "[0-9]+$" _section ${page})
    # scdoc reads standard input and writes standard output; go through sh
    # for the redirections so every generator treats them the same.
    add_custom_command(OUTPUT ${_out}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
      COMMAND sh -c "\"$0\" < \"$1\" > \"$2.tmp\" && mv \"$2.tmp\" \"$2\""
              ${SRM_SCDOC} ${_in} ${_out}
      DEPENDS ${_in}
      COMMENT "Building man page ${page} with scdoc"
      VERBATIM)
    list(APPEND _srm_man_outputs ${_out})
    install(FILES ${_out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${_section})
  endforeach()
  add_custom_target(srm_man ALL DEPENDS ${_srm_man_outputs})
else()
  message(STATUS "scdoc not found: man pages are skipped (apt-get install scdoc)")
endif()

# --- systemd unit ---------------------------------------------------------------
# Relative to the install prefix by default: systemd reads units from both
# /usr/lib/systemd/system and /usr/local/lib/systemd/system.
set(SRM_SYSTEMD_UNITDIR "lib/systemd/system" CACHE STRING
  "Where to install srm-relay.service (relative paths are under the install prefix)")
# The unit in dist/ names /usr/bin/srm-relay (so systemd-analyze can check it
# as it is); the installed copy must name the binary of this install, whose
# prefix is only known at install time (cmake --install --prefix).
install(CODE "
  set(_bindir \"${CMAKE_INSTALL_BINDIR}\")
  if(NOT IS_ABSOLUTE \"\${_bindir}\")
    set(_bindir \"\${CMAKE_INSTALL_PREFIX}/\${_bindir}\")
  endif()
  set(_unitdir \"${SRM_SYSTEMD_UNITDIR}\")
  if(NOT IS_ABSOLUTE \"\${_unitdir}\")
    set(_unitdir \"\${CMAKE_INSTALL_PREFIX}/\${_unitdir}\")
  endif()
  file(READ \"${CMAKE_SOURCE_DIR}/dist/srm-relay.service\" _unit)
  string(REPLACE \"/usr/bin/srm-relay\" \"\${_bindir}/srm-relay\" _unit \"\${_unit}\")
  file(WRITE \"${CMAKE_BINARY_DIR}/dist/srm-relay.service\" \"\${_unit}\")
  file(INSTALL DESTINATION \"\${_unitdir}\" TYPE FILE
       PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
       FILES \"${CMAKE_BINARY_DIR}/dist/srm-relay.service\")
")

# --- documentation --------------------------------------------------------------
install(FILES ${CMAKE_SOURCE_DIR}/docs/SERVICE.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
