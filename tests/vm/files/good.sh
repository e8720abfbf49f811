#!/bin/sh
echo good-script-ran
