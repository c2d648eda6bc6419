# kt_template_text(<dir> <rel> <out>): the text kubetee new writes for the template file
# <dir>/<rel>, into <out>. A layer's file that differs from base's only in places says so:
#
#   base/host.c                      remote/host.c
#     ...shared lines...               @extends base/host.c@
#     @block log@                      @block log@
#     base's lines (the default)       the layer's lines instead
#     @end@                            @end@
#     ...shared lines...
#
# A file that does not extend another is written with its blocks' markers dropped (their
# lines kept). An extending file holds only blocks (and blank lines between them); each
# replaces the block of that name in the file it extends, whose other lines it keeps.
# Markers stand alone on their line. Refused, naming the file and line: a block inside a
# block, an @end@ with no block, a block left open, a name twice, a layer's block the
# extended file does not have, anything else outside a layer's blocks, extending a file
# that extends another or is missing.
cmake_policy(VERSION 3.25)

# _kt_template_walk(<text> <where> <prefix> [<layer prefix>]): walks <text> line by line;
# sets, in the caller's scope, <prefix>_out (the text with its markers dropped, each block
# the layer has, <layer prefix>_names and _block_<name>, in its place), <prefix>_outside
# (the lines outside blocks), <prefix>_names (the blocks, in order) and
# <prefix>_block_<name> (a block's lines)
function(_kt_template_walk text where prefix)
  set(layer "")
  if(ARGC GREATER 3)
    set(layer ${ARGV3})
  endif()
  set(rest "${text}")
  set(out "")
  set(outside "")
  set(names "")
  set(block "")
  set(n 0)
  while(NOT rest STREQUAL "")
    math(EXPR n "${n} + 1")
    string(FIND "${rest}" "\n" nl)
    if(nl EQUAL -1)
      set(line "${rest}")
      set(eol "")
      set(rest "")
    else()
      string(SUBSTRING "${rest}" 0 ${nl} line)
      set(eol "\n")
      math(EXPR nl "${nl} + 1")
      string(SUBSTRING "${rest}" ${nl} -1 rest)
    endif()
    if(n EQUAL 1 AND line MATCHES "^@extends ")
      # a layer's first line, which kt_template_text has read
    elseif(line MATCHES "^@block ([a-z_]+)@$")
      if(NOT block STREQUAL "")
        message(FATAL_ERROR "${where}:${n}: block '${CMAKE_MATCH_1}' inside block '${block}'")
      endif()
      set(block ${CMAKE_MATCH_1})
      if(block IN_LIST names)
        message(FATAL_ERROR "${where}:${n}: block '${block}' a second time")
      endif()
      list(APPEND names ${block})
      set(body_${block} "")
      if(NOT layer STREQUAL "" AND block IN_LIST ${layer}_names)
        string(APPEND out "${${layer}_block_${block}}")
      endif()
    elseif(line STREQUAL "@end@")
      if(block STREQUAL "")
        message(FATAL_ERROR "${where}:${n}: @end@ with no block open")
      endif()
      set(block "")
    elseif(line MATCHES "^@(block|end|extends)")
      message(FATAL_ERROR "${where}:${n}: a malformed marker (@block NAME@ with NAME of a-z and _, @end@)")
    elseif(block STREQUAL "")
      string(APPEND outside "${line}${eol}")
      string(APPEND out "${line}${eol}")
    else()
      string(APPEND body_${block} "${line}${eol}")
      if(layer STREQUAL "" OR NOT block IN_LIST ${layer}_names)
        string(APPEND out "${line}${eol}")
      endif()
    endif()
  endwhile()
  if(NOT block STREQUAL "")
    message(FATAL_ERROR "${where}: block '${block}' has no @end@")
  endif()
  set(${prefix}_out "${out}" PARENT_SCOPE)
  set(${prefix}_outside "${outside}" PARENT_SCOPE)
  set(${prefix}_names "${names}" PARENT_SCOPE)
  foreach(b ${names})
    set(${prefix}_block_${b} "${body_${b}}" PARENT_SCOPE)
  endforeach()
endfunction()

function(kt_template_text dir rel out)
  file(READ ${dir}/${rel} text)
  if(NOT text MATCHES "^@extends")
    _kt_template_walk("${text}" ${rel} plain)
    set(${out} "${plain_out}" PARENT_SCOPE)
    return()
  endif()
  if(NOT text MATCHES "^@extends ([a-z_]+/[A-Za-z0-9_.-]+)@\n")
    message(FATAL_ERROR "${rel}:1: a malformed marker (@extends LAYER/PATH@)")
  endif()
  set(parent ${CMAKE_MATCH_1})
  if(NOT EXISTS ${dir}/${parent})
    message(FATAL_ERROR "${rel}:1: extends ${parent}, which is not a template")
  endif()
  file(READ ${dir}/${parent} skeleton)
  if(skeleton MATCHES "^@extends")
    message(FATAL_ERROR "${rel}:1: extends ${parent}, which extends another (one level only)")
  endif()
  _kt_template_walk("${text}" ${rel} layer)
  if(NOT layer_outside MATCHES "^\n*$")
    message(FATAL_ERROR "${rel}: lines outside its blocks (a layer's file holds only blocks)")
  endif()
  _kt_template_walk("${skeleton}" ${parent} base layer)
  foreach(b ${layer_names})
    if(NOT b IN_LIST base_names)
      message(FATAL_ERROR "${rel}: block '${b}' is not one of ${parent}'s (${base_names})")
    endif()
  endforeach()
  set(${out} "${base_out}" PARENT_SCOPE)
endfunction()
